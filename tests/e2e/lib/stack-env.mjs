// stack-env.mjs - where the test stack is, as tools/tt test exports it.
//
// tools/tt test starts PostgreSQL, Redis and RabbitMQ (tools/tt stack up),
// creates and migrates the database DB_NAME (tickettoken_test), builds the
// binaries with ASan/UBSan into TT_BIN_DIR and exports everything below
// before running node --test. Run by hand, the defaults match a stack
// started with `tools/tt stack up` and a `tools/tt build --asan`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const env = process.env;

/** The repository root. */
export const repoRoot = env.TT_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Build directory holding services/<name>/<name> (ASan build by default). */
export const binDir = env.TT_BIN_DIR ?? path.join(repoRoot, 'build-asan');

/** Path of a service binary: binPath('ingest'). */
export function binPath(name) {
  return path.join(binDir, 'services', name, name);
}

/** Path of a command-line tool built from tools/*.c: toolPath('publish'). */
export function toolPath(name) {
  return path.join(binDir, 'tools', `tt-${name}`);
}

export const pg = {
  host: env.DB_HOST ?? '127.0.0.1',
  port: Number(env.DB_PORT ?? env.TT_PG_PORT ?? 5432),
  database: env.DB_NAME ?? 'tickettoken_test',
  user: env.DB_USER ?? 'postgres',
  password: env.DB_PASSWORD ?? '',
};

export const redis = {
  host: env.REDIS_HOST ?? '127.0.0.1',
  port: Number(env.REDIS_PORT ?? env.TT_REDIS_PORT ?? 6379),
};

export const amqpPort = Number(env.TT_AMQP_PORT ?? 5672);
export const amqpUrl = env.RABBITMQ_URL ?? `amqp://guest:guest@127.0.0.1:${amqpPort}/`;

/** The development secret the services use when NODE_ENV != production. */
export const jwtSecret = env.JWT_SECRET ?? 'dev-only-insecure-jwt-secret';

/**
 * The environment to start a service binary with: the stack's connection
 * variables, sanitizer options, and `extra` on top (ports, queue names...).
 */
export function serviceEnv(extra = {}) {
  return {
    ...env,
    NODE_ENV: env.NODE_ENV ?? 'development',
    DB_HOST: pg.host,
    DB_PORT: String(pg.port),
    DB_NAME: pg.database,
    DB_USER: pg.user,
    DB_PASSWORD: pg.password,
    REDIS_HOST: redis.host,
    REDIS_PORT: String(redis.port),
    RABBITMQ_URL: amqpUrl,
    JWT_SECRET: jwtSecret,
    ASAN_OPTIONS: env.ASAN_OPTIONS ?? 'detect_leaks=1:abort_on_error=1',
    UBSAN_OPTIONS: env.UBSAN_OPTIONS ?? 'print_stacktrace=1:halt_on_error=1',
    ...extra,
  };
}
