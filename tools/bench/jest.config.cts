module.exports = {
  displayName: 'bench',
  preset: '../../jest.preset.js',
  coverageDirectory: '../../coverage/tools/bench',
  // Unit tests of the benchmark's pure logic only (statistics, the MySQL statement counter); the
  // benchmark itself is `npm run bench`.
  testMatch: ['**/*.spec.ts'],
};
