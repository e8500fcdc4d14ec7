/**
 * The product's configuration in a contender process: the world regenerated from its shape (the same
 * seed gives the same world) and the sandbox's endpoints, as the benchmark process passed them. The
 * sandbox itself runs elsewhere; sandboxFleetConfig reads only its endpoints and world.
 */
import type { Sandbox, SandboxEndpoints } from '../sandbox/index.js';
import { generateWorld } from '../sandbox/generator.js';
import { parseWorld, type World } from '../sandbox/world.js';
import { sandboxFleetConfig } from '../dev/sandbox-fleet.js';
import type { FleetConfig } from '../src/core/platform/config.js';
import type { WorldShape } from './options.js';

export interface ContenderWorldInput {
  endpoints: SandboxEndpoints;
  world: WorldShape;
  /** The provider storage the contender writes to (through a counting proxy). */
  connectionString: string;
  /** Table, queue and container prefix. */
  prefix: string;
}

export function contenderFleetConfig(input: ContenderWorldInput): { world: World; config: FleetConfig } {
  const world = parseWorld(
    generateWorld({
      seed: input.world.seed,
      tenants: input.world.tenants,
      subscriptionsPerTenant: input.world.subscriptionsPerTenant,
      resourcesPerSubscription: input.world.resourcesPerSubscription,
    }),
  );
  const sandboxView = { endpoints: input.endpoints, store: { world } } as unknown as Sandbox;
  const config = sandboxFleetConfig(sandboxView, {
    providerConnectionString: input.connectionString,
    prefix: input.prefix,
  });
  return { world, config };
}
