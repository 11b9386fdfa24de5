module.exports = {
  displayName: 'worker-report',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/apps/worker-report',
};
