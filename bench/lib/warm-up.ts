// How many messages a bench sends before it measures a Node service: its JIT's warm-up. V8 optimizes
// a function once it has run enough bytecode, so the functions a message runs once (the accept path
// is mostly such) are optimized only after thousands of messages. Measured on a bundled mx under the
// mx bench's load (docs/performance.md, "V8's compiling under load"): TurboFan compiled 153
// functions in messages 1,000-3,000, 49 in 3,000-5,000, then 9-27 per 2,000, and mx's threads other
// than the main one spent 0.32, 0.12, then 0.03-0.08 ms per message; nothing is compiled per message.
// A round measured after a shorter warm-up counts part of the warm-up as the cost of a message.
import { numberArg } from './args.js';

/** Messages to send before measuring: `--warmup N`, by default 5,000. */
export const warmUpMessages = (fallback = 5000): number => numberArg('warmup', fallback);
