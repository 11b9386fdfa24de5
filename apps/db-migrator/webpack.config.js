module.exports = require('../../tools/webpack/node-app.webpack.js')(__dirname, 'db-migrator');
