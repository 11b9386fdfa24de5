module.exports = {
  displayName: 'deploy-checks',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/tools/deploy-checks',
  // Renders every kustomization with kubectl and builds a TypeScript program of the Kubernetes
  // models once per file: allow more than the default 5 s.
  testTimeout: 120_000,
};
