module.exports = {
  displayName: 'worker-analytics',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/apps/worker-analytics',
};
