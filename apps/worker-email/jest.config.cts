module.exports = {
  displayName: 'worker-email',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/apps/worker-email',
};
