// One test command runs unit, integration (real beanstalkd + MongoDB-wire server) and
// end-to-end (spawned processes) tests; global-setup.ts starts the servers.
module.exports = {
  'node-option': ['import=tsx'],
  require: ['test/support/global-setup.ts'],
  reporter: 'test/support/summary-reporter.cjs',
  timeout: 60000,
  exit: false,
};
