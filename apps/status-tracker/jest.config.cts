module.exports = {
  displayName: 'status-tracker',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/apps/status-tracker',
};
