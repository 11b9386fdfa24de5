module.exports = {
  displayName: 'db-migrator',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/apps/db-migrator',
};
