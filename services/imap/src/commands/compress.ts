import { authenticated } from '../session/states.js';
import { defineCommand, no } from './command.js';

export const compressCommand = defineCommand({
  name: 'COMPRESS',
  states: authenticated,
  parse(args) {
    const mechanism = args.atom('mechanism').toUpperCase();
    args.end();
    return mechanism;
  },
  async run(session, mechanism, tag) {
    if (mechanism !== 'DEFLATE') return no('Unsupported compression mechanism', 'CANNOT');
    if (session.compressed) return no('Compression is already active', 'COMPRESSIONACTIVE');
    // The OK goes out uncompressed; everything after it is deflated.
    session.tagged(tag, { status: 'OK', text: 'DEFLATE active' });
    session.startCompression();
    return { status: 'OK', text: '', silent: true };
  },
});
