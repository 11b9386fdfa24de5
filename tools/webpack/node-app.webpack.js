// Shared webpack config of every Tasklane app: a Node bundle of the app and the workspace libs
// it imports; npm dependencies stay external (listed in the generated package.json).
const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');
const { join } = require('path');

module.exports = function nodeAppConfig(projectDir, appName) {
  return {
    output: {
      path: join(projectDir, '../../dist/apps', appName),
      clean: true,
      ...(process.env.NODE_ENV !== 'production' && {
        devtoolModuleFilenameTemplate: '[absolute-resource-path]',
      }),
    },
    plugins: [
      new NxAppWebpackPlugin({
        target: 'node',
        compiler: 'tsc',
        main: './src/main.ts',
        tsConfig: './tsconfig.app.json',
        optimization: false,
        outputHashing: 'none',
        generatePackageJson: true,
        sourceMap: true,
        // Types are checked by the `typecheck` target; the bundle only transpiles.
        skipTypeChecking: true,
      }),
    ],
  };
};
