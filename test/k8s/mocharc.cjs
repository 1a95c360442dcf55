// npm run test:k8s (scripts/test-k8s.sh runs this with KUBECONFIG at the cluster it started).
// No global-setup: the backends are the chart's own pods.
module.exports = {
  'node-option': ['import=tsx'],
  reporter: 'spec',
  timeout: 300000,
  exit: false,
};
