'use strict';
// `assert` for sonic-boom in the daemon bundle (scripts/build.mjs): it calls assert(value, message)
// once, on a path the daemon does not take; Node's assert module would otherwise load at start
// (its diff and error formatting code: about 1 MiB of resident memory).
module.exports = function assert(value, message) {
  if (!value) throw new Error(message ?? 'assertion failed');
};
