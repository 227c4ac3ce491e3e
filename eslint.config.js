// Typed ESLint flat config. Beyond the recommended sets it holds Vireo's layering lines
// (docs/architecture.md): the renderer imports no Node or Electron; control/, engine/,
// ipc/, serve/ and cli/ import no Electron or React; only main/app/ and preload/ know Electron.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const nodeBuiltins = [
  'node:*',
  'fs',
  'path',
  'os',
  'child_process',
  'worker_threads',
  'net',
  'http',
  'crypto',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'out/',
      'dist/',
      '.cache/',
      'test-results/',
      'renderer/vite.config.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['electron', ...nodeBuiltins],
              message: 'The renderer is sandboxed: no Node or Electron. Use the bridge.',
            },
            {
              group: ['**/main/**'],
              message: 'The renderer reaches main only through the bridge (preload/contract.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    files: [
      'main/control/**',
      'main/engine/**',
      'main/ipc/**',
      'main/serve/**',
      'main/cli/**',
      'preload/contract.ts',
      'preload/vm-config.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['electron', 'electron/*'],
              message: 'Only main/app/ and preload/index.ts may import Electron.',
            },
            {
              group: ['react', 'react-dom', 'react/*', 'zustand', 'recharts'],
              message: 'No UI libraries outside the renderer.',
            },
            {
              group: ['**/renderer/**', '**/main/app/**'],
              message: 'Layering: this runtime may not import that one.',
            },
          ],
        },
      ],
    },
  },
);
