/**
 * `echo` — the smallest adapter: answers chat messages with the text it received, optionally
 * prefixed. Used by the demo, the tests and the routing benchmark; a template for real adapters.
 */
import { OptionsError, type AdapterModule } from '../contract.js';

export interface EchoOptions {
  /** Text put before every answer. */
  prefix: string;
}

export const echoAdapter: AdapterModule<EchoOptions> = {
  kind: 'echo',
  description: 'answers chat messages with their own text (demo and tests)',
  // Pure computation: never blocks its thread, so its apps share the worker pool.
  isolation: 'shared',
  parseOptions(raw) {
    const { prefix = '', ...rest } = raw;
    const unknown = Object.keys(rest)[0];
    if (unknown) throw new OptionsError(unknown, 'unknown option (echo knows: prefix)');
    if (typeof prefix !== 'string') throw new OptionsError('prefix', 'must be a string');
    return { prefix };
  },
  create({ options }) {
    return {
      async chat(message) {
        return options.prefix + message.body;
      },
    };
  },
};
