// Type-aware linting: typescript-eslint needs the TypeScript 5.9 compiler API (TypeScript 7 has none).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The house's walls, enforced: `src/` is what is deployed, `sandbox/` imitates Azure, and only the
 * local harness (`dev/`), `bench/` and `test/` may join them. `src/core` is the logic, free of the
 * Functions host, so the same code runs from the command line.
 */
const WING_PATTERNS = [
  {
    group: ['**/sandbox/**', '**/sandbox'],
    message: 'src/ is deployed: it never imports the sandbox (join them in dev/).',
  },
  {
    group: ['**/dev/**', '**/dev'],
    message: 'src/ is deployed: it never imports the local harness in dev/.',
  },
  { group: ['**/bench/**', '**/test/**'], message: 'src/ never imports the benchmark or the tests.' },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.local/', '.tools/', 'reports/', 'eslint.config.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    files: ['src/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: WING_PATTERNS }] },
  },
  {
    files: ['src/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@azure/functions',
              message: 'src/core runs outside the Functions host: keep triggers in src/functions.',
            },
          ],
          patterns: [
            ...WING_PATTERNS,
            {
              group: ['**/functions/**'],
              message: 'src/core never imports the thin trigger layer in src/functions.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['sandbox/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/**', '**/dev/**'],
              message: 'The sandbox imitates Azure on its own: it never imports the product or the harness.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**', 'sandbox/**', 'dev/**', 'faults/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
