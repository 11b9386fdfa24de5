import nx from '@nx/eslint-plugin';

/**
 * Module boundaries. Apps depend on libs, never the other way; a lib depends only on libs of a
 * lower layer (contracts < util < data-access < feature); each app's scope sees only the
 * shared libs and its own (so no worker can import gateway code, and the reverse).
 * Test files (and the `*.fixture.ts` only they import) may additionally import the `type:testing`
 * helpers.
 */
const typeLayers = {
  'type:app': ['type:feature', 'type:data-access', 'type:util', 'type:contracts'],
  'type:feature': ['type:feature', 'type:data-access', 'type:util', 'type:contracts'],
  'type:data-access': ['type:data-access', 'type:util', 'type:contracts'],
  'type:util': ['type:util'],
  'type:contracts': ['type:contracts'],
  'type:testing': ['type:util', 'type:contracts'],
  'type:e2e': ['type:testing', 'type:contracts', 'type:util'],
  // The dashboard runs in a browser: the contracts' browser entry point only.
  'type:frontend': ['type:contracts'],
  'type:tooling': ['type:tooling'],
};
const scopes = {
  'scope:gateway': ['scope:gateway', 'scope:shared'],
  'scope:dashboard': ['scope:dashboard', 'scope:shared'],
  'scope:worker': ['scope:worker', 'scope:shared'],
  'scope:tracker': ['scope:tracker', 'scope:shared'],
  'scope:shared': ['scope:shared'],
  'scope:migrator': ['scope:migrator', 'scope:shared'],
  'scope:e2e': ['scope:e2e', 'scope:shared'],
  'scope:ops': ['scope:ops'],
};

function boundaries({ forTests }) {
  return [
    'error',
    {
      enforceBuildableLibDependency: true,
      allow: ['^.*/eslint(\\.base)?\\.config\\.[cm]?[jt]s$'],
      depConstraints: [
        ...Object.entries(typeLayers).map(([sourceTag, allowed]) => ({
          sourceTag,
          onlyDependOnLibsWithTags: forTests ? [...allowed, 'type:testing'] : allowed,
        })),
        ...Object.entries(scopes).map(([sourceTag, allowed]) => ({ sourceTag, onlyDependOnLibsWithTags: allowed })),
      ],
    },
  ];
}

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    ignores: [
      '**/dist',
      '**/out-tsc',
      '**/node_modules',
      'tmp',
      'var',
      'coverage',
      '**/jest.config.cts',
      '**/jest.e2e.config.cts',
    ],
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@nx/enforce-module-boundaries': boundaries({ forTests: false }),
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: true },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'off',
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
  {
    // Tests, and the fixtures (`*.fixture.ts`) only tests import.
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', '**/*.fixture.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries({ forTests: true }),
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['tools/**/*.ts', 'tools/**/*.mjs'],
    rules: { 'no-console': 'off' },
  },
];
