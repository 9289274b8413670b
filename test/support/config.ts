// The configuration problems loadConfig reports for an environment, for the config tables.
import { ConfigError, loadConfig } from '../../services/core/config/index.js';

/** Every problem loadConfig finds in `env` (its ConfigError's list); [] when the config is valid. */
export function configProblems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}
