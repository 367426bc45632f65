// The version string (set by the bundler from package.json; "dev" when run from source).
export const VERSION: string = process.env.NLD_VERSION ?? 'dev';
