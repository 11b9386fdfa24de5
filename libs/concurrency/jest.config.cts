module.exports = {
  displayName: 'concurrency',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/libs/concurrency',
};
