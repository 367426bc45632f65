'use strict';
// thread-stream as pino sees it in the daemon bundle (scripts/build.mjs points `thread-stream`
// here): pino requires it when it loads, for transports, which the daemon never starts (it logs
// to stdout through sonic-boom). The real module, and the assert module it brings, load only if a
// transport is ever created.
module.exports = function ThreadStream(options) {
  const Real = require('thread-stream/index.js');
  return new Real(options);
};
