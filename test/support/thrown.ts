// The AuthmeshError a synchronous call throws, for table tests of the pure OAuth rules that
// assert on its code and description. Fails the test when nothing, or something else, is thrown.
import { AuthmeshError } from '../../services/core/errors/index.js';

export function thrown(fn: () => unknown): AuthmeshError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthmeshError) return err;
    throw err;
  }
  throw new Error('expected an AuthmeshError');
}
