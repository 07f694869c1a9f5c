// Preloaded into a service (`--import`) by a benchmark's --profile flag: a V8 CPU profile of the
// whole process life, written to $HERMOD_CPU_PROFILE_DIR/<pid>.cpuprofile when it exits (NODE_OPTIONS
// does not allow --cpu-prof). Open it in Chrome DevTools or summarize it with bench/lib/profile-top.ts.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.HERMOD_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  // The in-process inspector answers synchronously, so this works inside 'exit'.
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
