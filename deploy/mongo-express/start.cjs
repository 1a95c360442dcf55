#!/usr/bin/env node
// Starts Mongo Express 1.0.0 (installed from package-lock.json beside this file) the way this
// project runs it, in the image and under `distributed-workers up`:
//
//   node start.cjs [DIR]     DIR holds node_modules/mongo-express (default: this file's folder)
//
// It adds what the package leaves unsafe or unset, then hands over to the package's app.js,
// which reads the rest of its ME_CONFIG_* settings itself (its config.default.js):
// - a basic-auth password is required: without one, 1.0.0 silently lets in admin:pass, and an
//   empty ME_CONFIG_BASICAUTH_USERNAME turns the login off altogether;
// - the session and cookie secrets are random per process unless given (the package's
//   defaults are the words "sessionsecret" and "cookiesecret");
// - SIGTERM and SIGINT end it at once: as PID 1 in a container Node would ignore them, and
//   Mongo Express keeps nothing worth a graceful stop (its sessions live in memory).
'use strict';

const { randomBytes } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

function refuse(message) {
  process.stderr.write(`mongo-express: ${message}\n`);
  process.exit(1);
}

/** A setting as Mongo Express 1.0.0 reads it: the first line of NAME_FILE, else NAME. */
function setting(name) {
  const file = process.env[`${name}_FILE`];
  if (file) {
    try {
      return readFileSync(file, 'utf8').split(/\r?\n/)[0].trim();
    } catch (error) {
      // Mongo Express would fall back to NAME, or to its default: say why instead.
      refuse(
        `cannot read ${name}_FILE (${error.code ?? error.message}): uid ${process.getuid?.()} must be able to`,
      );
    }
  }
  return process.env[name];
}

if (setting('ME_CONFIG_BASICAUTH_USERNAME') === '')
  refuse('ME_CONFIG_BASICAUTH_USERNAME is empty, which turns the login off: set a user name');
if (!setting('ME_CONFIG_BASICAUTH_PASSWORD'))
  refuse(
    'set ME_CONFIG_BASICAUTH_PASSWORD or ME_CONFIG_BASICAUTH_PASSWORD_FILE (else admin:pass would let anyone in)',
  );

for (const name of ['ME_CONFIG_SITE_SESSIONSECRET', 'ME_CONFIG_SITE_COOKIESECRET'])
  if (!process.env[name]) process.env[name] = randomBytes(32).toString('hex');
// Compiled templates are cached only in production (the package's `npm start` sets it too).
if (!process.env.NODE_ENV) process.env.NODE_ENV = 'production';

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

const dir = process.argv[2] && !process.argv[2].startsWith('-') ? process.argv.splice(2, 1)[0] : __dirname;
require(join(dir, 'node_modules', 'mongo-express', 'app.js'));
