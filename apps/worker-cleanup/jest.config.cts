module.exports = {
  displayName: 'worker-cleanup',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/apps/worker-cleanup',
};
