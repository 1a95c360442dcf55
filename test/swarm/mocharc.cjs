// npm run test:swarm (scripts/test-swarm.sh runs this with DOCKER_HOST at its own engine).
// No global-setup: the backends are the stack's own services.
module.exports = {
  'node-option': ['import=tsx'],
  reporter: 'spec',
  timeout: 300000,
  exit: false,
};
