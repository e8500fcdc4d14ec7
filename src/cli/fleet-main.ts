/** Entry point of `npm run fleet`; the commands live in fleet.ts (testable without a process). */
import { runFleetCommand } from './fleet.js';

// Results on stdout, errors on stderr (a pipe to jq gets only JSON).
process.exitCode = await runFleetCommand(
  process.argv.slice(2),
  process.env,
  (text) => console.log(text),
  (text) => console.error(text),
);
