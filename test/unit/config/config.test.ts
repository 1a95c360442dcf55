import assert from 'node:assert/strict';
import { ConfigError, loadManagerConfig, loadWorkerConfig, SETTINGS } from '../../../src/config/config.js';

describe('config', () => {
  it('when nothing is set, then the defaults match the original system', () => {
    const config = loadManagerConfig({});
    assert.equal(config.beanstalk.host, '127.0.0.1');
    assert.equal(config.beanstalk.port, 11300);
    assert.equal(config.listenPort, 8080);
    assert.equal(config.mongo.dbName, 'distributed_workers');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.beanstalk));
  });

  it('when the original answers are asked about, then a POST to any path is a job and prototype keys are refused by default; each can be switched', () => {
    const defaults = loadManagerConfig({});
    assert.equal(defaults.acceptAnyPath, true);
    assert.equal(defaults.allowPrototypeKeys, false);
    const switched = loadManagerConfig({ ACCEPT_ANY_PATH: 'false', ALLOW_PROTOTYPE_KEYS: 'true' });
    assert.equal(switched.acceptAnyPath, false);
    assert.equal(switched.allowPrototypeKeys, true);
    assert.throws(
      () => loadManagerConfig({ ACCEPT_ANY_PATH: 'sometimes', ALLOW_PROTOTYPE_KEYS: 'maybe' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((p) => p.startsWith('ACCEPT_ANY_PATH')) &&
        error.problems.some((p) => p.startsWith('ALLOW_PROTOTYPE_KEYS')),
    );
  });

  it('when the original variable names are set, then they are used', () => {
    const config = loadManagerConfig({
      BEANSTALK_HOST: 'beanstalkd',
      BEANSTALK_PORT: '11301',
      MONGO_URL: 'mongodb://mongo:27017/jobsdb',
      MANAGER_LISTEN_PORT: '9090',
    });
    assert.equal(config.beanstalk.host, 'beanstalkd');
    assert.equal(config.beanstalk.port, 11301);
    assert.equal(config.mongo.url, 'mongodb://mongo:27017/jobsdb');
    assert.equal(config.mongo.dbName, 'jobsdb');
    assert.equal(config.listenPort, 9090);
  });

  it('when BEANSTALK_SERVERS lists several servers, then each is read in order and the first stands for BEANSTALK_HOST', () => {
    const config = loadWorkerConfig({ BEANSTALK_SERVERS: 'q1:11300, [::1]:11301,10.0.0.3:11302' });
    assert.deepEqual(config.beanstalk.servers, [
      { host: 'q1', port: 11300 },
      { host: '::1', port: 11301 },
      { host: '10.0.0.3', port: 11302 },
    ]);
    assert.deepEqual([config.beanstalk.host, config.beanstalk.port], ['q1', 11300]);
    const one = loadWorkerConfig({ BEANSTALK_HOST: 'solo', BEANSTALK_PORT: '1234' });
    assert.deepEqual(one.beanstalk.servers, [{ host: 'solo', port: 1234 }], 'unset: the one server');
  });

  it('when BEANSTALK_SERVERS is malformed, repeats a server, or outnumbers the worker slots, then each is reported', () => {
    for (const [env, problem] of [
      [{ BEANSTALK_SERVERS: 'q1' }, /BEANSTALK_SERVERS: "q1" is not host:port/],
      [{ BEANSTALK_SERVERS: 'q1:99999' }, /port out of range/],
      [{ BEANSTALK_SERVERS: 'q1:1,q1:1' }, /listed twice/],
      [
        { BEANSTALK_SERVERS: 'a:1,b:1,c:1', WORKER_CONCURRENCY: '2' },
        /WORKER_CONCURRENCY \(2\) must be at least the number of BEANSTALK_SERVERS \(3\)/,
      ],
    ] as const) {
      assert.throws(
        () => loadWorkerConfig(env),
        (error: unknown) => error instanceof ConfigError && problem.test(error.problems.join('\n')),
        JSON.stringify(env),
      );
    }
  });

  it('when several values are bad, then every one is reported at once', () => {
    try {
      loadWorkerConfig({
        BEANSTALK_PORT: '70000',
        MONGO_URL: 'http://user:secret@example',
        WORKER_CONCURRENCY: '0',
        WORKER_WORK_DELAY_MS: '5000-1000',
        LOG_LEVEL: 'loud',
        QUEUE_TUBE_PREFIX: '-bad',
      });
      assert.fail('expected a ConfigError');
    } catch (error: unknown) {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      for (const name of [
        'BEANSTALK_PORT',
        'MONGO_URL',
        'WORKER_CONCURRENCY',
        'WORKER_WORK_DELAY_MS',
        'LOG_LEVEL',
        'QUEUE_TUBE_PREFIX',
      ]) {
        assert.match(text, new RegExp(name));
      }
      assert.equal(error.problems.length, 6);
      assert.doesNotMatch(error.message, /secret/, 'a MONGO_URL password must never be echoed');
    }
  });

  it('when every setting with bounds or a pattern is given junk, then each is named in the one error', () => {
    const checked = SETTINGS.filter(
      (s) => s.kind !== 'secret' && !(s.kind === 'text' && s.pattern === undefined),
    );
    for (const [role, load] of [
      ['manager', loadManagerConfig],
      ['worker', loadWorkerConfig],
    ] as const) {
      const own = checked.filter((s) => s.roles.includes(role));
      const env = Object.fromEntries(own.map((s) => [s.env, 'not valid!']));
      assert.throws(
        () => load(env),
        (error: unknown) =>
          error instanceof ConfigError &&
          own.every((s) => error.problems.some((p) => p.startsWith(s.env))) &&
          error.problems.length === own.length,
        role,
      );
    }
  });

  it('when a work delay range is given, then it is parsed into min and max', () => {
    assert.deepEqual(loadWorkerConfig({ WORKER_WORK_DELAY_MS: '1000-5000' }).workDelayMs, {
      min: 1000,
      max: 5000,
    });
    assert.deepEqual(loadWorkerConfig({ WORKER_WORK_DELAY_MS: '250' }).workDelayMs, { min: 250, max: 250 });
  });

  it('when an accept hold is set, then it must outlast the inserts the manager waits for', () => {
    assert.equal(loadManagerConfig({}).acceptHoldSeconds, 0);
    assert.equal(loadManagerConfig({ ACCEPT_HOLD_SECONDS: '120' }).acceptHoldSeconds, 120);
    // MONGO_TIMEOUT_MS 3000 plus 2000 of retries, twice over: at least 10 s.
    assert.equal(loadManagerConfig({ ACCEPT_HOLD_SECONDS: '10' }).acceptHoldSeconds, 10);
    assert.throws(
      () => loadManagerConfig({ ACCEPT_HOLD_SECONDS: '9' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /ACCEPT_HOLD_SECONDS must be 0 or at least 10/.test(error.problems.join()),
    );
    assert.throws(
      () => loadManagerConfig({ ACCEPT_HOLD_SECONDS: '60', MONGO_TIMEOUT_MS: '60000' }),
      (error: unknown) => error instanceof ConfigError && /at least 124/.test(error.problems.join()),
    );
  });

  it('when a connection cap is set, then the server gets it; none or zero is refused', () => {
    assert.equal(loadManagerConfig({}).security.maxConnections, 1024);
    assert.equal(loadManagerConfig({ MANAGER_MAX_CONNECTIONS: '3' }).security.maxConnections, 3);
    assert.throws(() => loadManagerConfig({ MANAGER_MAX_CONNECTIONS: '0' }), ConfigError);
  });

  it('when a number has junk around it, then it is refused rather than truncated', () => {
    assert.throws(() => loadManagerConfig({ MANAGER_LISTEN_PORT: '80abc' }), ConfigError);
    assert.throws(() => loadManagerConfig({ MANAGER_LISTEN_PORT: '8.5' }), ConfigError);
    assert.throws(() => loadManagerConfig({ BEANSTALK_HOST: 'host\r\nput' }), ConfigError);
  });

  it('when API keys come from the variable and a file, then both are read and a bad entry is reported without its key', () => {
    const config = loadManagerConfig(
      { API_KEYS: 'ci:ci-key-0123456789abcdef', API_KEYS_FILE: '/run/secrets/api_keys' },
      (path) => {
        assert.equal(path, '/run/secrets/api_keys');
        return '# keys\nops:ops-key-0123456789abcdef\n\n';
      },
    );
    assert.deepEqual(
      config.security.apiKeys.map((k) => k.name),
      ['ci', 'ops'],
    );
    try {
      loadManagerConfig({
        API_KEYS: 'short:tooshort,ci:ci-key-0123456789abcdef,ci:ci-key-0123456789abcdeX',
        AUTH_READS: 'maybe',
      });
      assert.fail('expected a ConfigError');
    } catch (error: unknown) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 3);
      assert.doesNotMatch(error.message, /tooshort|0123456789/, 'no key is echoed');
    }
    assert.throws(
      () =>
        loadManagerConfig({ API_KEYS_FILE: '/nope' }, () => {
          throw new Error('ENOENT');
        }),
      /API_KEYS_FILE/,
    );
  });

  it('when API_KEYS is set but holds no key, then configuration refuses instead of turning auth off', () => {
    for (const value of [',', ' ', ' , \n ', '#comment']) {
      assert.throws(
        () => loadManagerConfig({ API_KEYS: value }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.length === 1 &&
          /^API_KEYS holds no name:key entry/.test(error.problems[0] ?? ''),
        JSON.stringify(value),
      );
    }
  });

  it('when API_KEYS_FILE names an empty or comments-only file, then configuration refuses and names the file', () => {
    for (const content of ['', '\n\n', '# keys go here\n  # name:key\n']) {
      assert.throws(
        () => loadManagerConfig({ API_KEYS_FILE: '/run/secrets/api_keys' }, () => content),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.length === 1 &&
          /API_KEYS_FILE "\/run\/secrets\/api_keys" holds no name:key entry/.test(error.problems[0] ?? ''),
        JSON.stringify(content),
      );
    }
    assert.throws(
      () => loadManagerConfig({ API_KEYS_FILE: ' ' }, () => 'ops:ops-key-0123456789abcdef'),
      (error: unknown) =>
        error instanceof ConfigError && /API_KEYS_FILE is set but names no file/.test(error.problems.join()),
      'a blank file name is set but names no file',
    );
    assert.throws(
      () =>
        loadManagerConfig(
          { API_KEYS: 'ci:ci-key-0123456789abcdef', API_KEYS_FILE: '/run/secrets/api_keys' },
          () => '',
        ),
      (error: unknown) =>
        error instanceof ConfigError &&
        /API_KEYS_FILE ".*" holds no name:key entry/.test(error.problems.join()),
      'keys in API_KEYS do not excuse an empty file: its keys were meant to be there',
    );
  });

  it('when neither API_KEYS nor API_KEYS_FILE is set (or both are empty), then there is no auth and no problem', () => {
    assert.deepEqual(loadManagerConfig({}).security.apiKeys, []);
    assert.deepEqual(
      loadManagerConfig({ API_KEYS: '', API_KEYS_FILE: '' }, () => assert.fail('no file is read')).security
        .apiKeys,
      [],
    );
  });
});
