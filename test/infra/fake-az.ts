/**
 * A stand-in for the Azure CLI on PATH, for testing the shell scripts under infra/ without Azure: it logs every
 * call (and the content of every `@file` argument, which the scripts use for JSON bodies) and answers the
 * commands a test lists; any other call fails with exit code 99 so an unexpected command cannot go unnoticed.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** One answer: a bash `case` pattern over the joined arguments and the commands to run for it. */
export type FakeAzCase = [pattern: string, body: string];

export interface FakeAzRun extends SpawnSyncReturns<string> {
  /** Every call's arguments, joined by spaces, in order. */
  calls: string[];
  /** The content of every `@file` argument, in order. */
  files: string[];
}

export interface FakeAz {
  run(script: string, args: string[], env?: Record<string, string>): FakeAzRun;
  remove(): void;
}

export function installFakeAz(cases: FakeAzCase[]): FakeAz {
  const dir = mkdtempSync(path.join(tmpdir(), 'tenant-fleet-fake-az-'));
  const fakeAz = [
    '#!/usr/bin/env bash',
    'echo "$*" >> "$FAKE_AZ_LOG"',
    'for arg in "$@"; do case "$arg" in @*) cat "${arg#@}" >> "$FAKE_AZ_FILES"; echo >> "$FAKE_AZ_FILES" ;; esac; done',
    'case "$*" in',
    ...cases.map(([pattern, body]) => `  ${pattern}) ${body} ;;`),
    '  *) echo "fake az: unexpected call: $*" >&2; exit 99 ;;',
    'esac',
  ].join('\n');
  writeFileSync(path.join(dir, 'az'), `${fakeAz}\n`);
  chmodSync(path.join(dir, 'az'), 0o755);
  return {
    run(script, args, env = {}) {
      const id = Math.random().toString(36).slice(2);
      const log = path.join(dir, `calls-${id}.log`);
      const files = path.join(dir, `files-${id}.log`);
      writeFileSync(log, '');
      writeFileSync(files, '');
      const result = spawnSync('bash', [script, ...args], {
        encoding: 'utf8',
        env: {
          PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          FAKE_AZ_LOG: log,
          FAKE_AZ_FILES: files,
          ...env,
        },
      });
      return {
        ...result,
        calls: readFileSync(log, 'utf8').split('\n').filter(Boolean),
        files: readFileSync(files, 'utf8')
          .split('\n\n')
          .filter((text) => text.trim()),
      };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
