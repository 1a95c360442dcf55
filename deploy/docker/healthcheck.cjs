// The image's HEALTHCHECK. For the manager: GET /healthz on its own port answers 200.
// For a worker, which has no HTTP port: healthy while it runs. Docker already restarts an
// exited process, and a worker that loses beanstalkd or MongoDB waits and reconnects by
// design, so failing its health check on a backend outage would only make the orchestrator
// kill workers that are about to recover.
const { readFileSync } = require('node:fs');

let command = '';
try {
  command = readFileSync('/proc/1/cmdline', 'utf8').split('\0').join(' ');
} catch {
  // Not in a container with our process as PID 1: check the manager.
}
if (/\bdist\/index\.js worker\b/.test(command)) process.exit(0);

const port = process.env.MANAGER_LISTEN_PORT || '8080';
fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2500) }).then(
  (response) => process.exit(response.ok ? 0 : 1),
  () => process.exit(1),
);
