module.exports = {
  displayName: 'worker-runtime',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/libs/worker-runtime',
};
