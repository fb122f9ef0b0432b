// Lint rules for the whole repository; the engine (src/core) additionally may not import `vscode`.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const vscodeBan = {
  message:
    'src/core is the engine: it must stay free of the editor API (put editor code in src/views or src/extension).',
};

export default defineConfig(
  globalIgnores(['dist/', 'out/', 'coverage/', '.vscode-test/', '.vscode-host/', 'bench/results/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      curly: 'error',
    },
  },
  {
    // Build and test scripts run in plain Node.
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },
  {
    files: ['src/core/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', ...vscodeBan }],
          patterns: [{ group: ['vscode/*'], ...vscodeBan }],
        },
      ],
    },
  },
);
