/**
 * Mocha global fixtures: one real beanstalkd and one real MongoDB-wire server for the whole
 * run (installed when missing), unless BEANSTALK_HOST / MONGO_URL point at running ones.
 * Tests isolate themselves with their own tube prefix and database (see harness.ts).
 */
import {
  installBackends,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
} from '../../src/local/servers.js';

const started: LocalServer[] = [];

export async function mochaGlobalSetup(): Promise<void> {
  const needBeanstalkd = !process.env.BEANSTALK_HOST;
  const needMongo = !process.env.MONGO_URL;
  if (needBeanstalkd || needMongo) installBackends();
  if (needBeanstalkd) {
    const beanstalkd = await startBeanstalkd();
    started.push(beanstalkd);
    process.env.DW_TEST_BEANSTALK_HOST = '127.0.0.1';
    process.env.DW_TEST_BEANSTALK_PORT = String(beanstalkd.port);
  } else {
    process.env.DW_TEST_BEANSTALK_HOST = process.env.BEANSTALK_HOST;
    process.env.DW_TEST_BEANSTALK_PORT = process.env.BEANSTALK_PORT ?? '11300';
  }
  if (needMongo) {
    const mongo = await startMongoServer();
    started.push(mongo);
    process.env.DW_TEST_MONGO_URL = mongo.url;
  } else {
    process.env.DW_TEST_MONGO_URL = process.env.MONGO_URL;
  }
  // The code under test must only see what each test gives it.
  for (const name of ['BEANSTALK_HOST', 'BEANSTALK_PORT', 'MONGO_URL']) delete process.env[name];
}

export async function mochaGlobalTeardown(): Promise<void> {
  for (const server of started.reverse()) await server.stop();
}
