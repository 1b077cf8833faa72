'use strict';
// Server error codes, code names and error labels as mongod reports them.

const CODE_NAMES = {
  1: 'InternalError',
  2: 'BadValue',
  4: 'NoSuchKey',
  6: 'HostUnreachable',
  7: 'HostNotFound',
  9: 'FailedToParse',
  11: 'UserNotFound',
  14: 'TypeMismatch',
  20: 'IllegalOperation',
  26: 'NamespaceNotFound',
  27: 'IndexNotFound',
  28: 'PathNotViable',
  40: 'ConflictingUpdateOperators',
  43: 'CursorNotFound',
  48: 'NamespaceExists',
  50: 'MaxTimeMSExpired',
  52: 'DollarPrefixedFieldName',
  59: 'CommandNotFound',
  66: 'ImmutableField',
  67: 'CannotCreateIndex',
  72: 'InvalidOptions',
  73: 'InvalidNamespace',
  85: 'IndexOptionsConflict',
  86: 'IndexKeySpecsConflict',
  89: 'NetworkTimeout',
  91: 'ShutdownInProgress',
  96: 'OperationFailed',
  115: 'CommandNotSupported',
  121: 'DocumentValidationFailure',
  133: 'FailedToSatisfyReadPreference',
  136: 'CappedPositionLost',
  150: 'StaleEpoch',
  168: 'InvalidPipelineOperator',
  189: 'PrimarySteppedDown',
  225: 'TransactionTooOld',
  234: 'RetryChangeStream',
  237: 'CursorKilled',
  251: 'NoSuchTransaction',
  260: 'InvalidResumeToken',
  262: 'ExceededTimeLimit',
  263: 'OperationNotSupportedInTransaction',
  280: 'ChangeStreamFatalError',
  286: 'ChangeStreamHistoryLost',
  352: 'UnsupportedOpQueryCommand',
  9001: 'SocketException',
  10107: 'NotWritablePrimary',
  10334: 'BSONObjectTooLarge',
  11000: 'DuplicateKey',
  11600: 'InterruptedAtShutdown',
  11601: 'Interrupted',
  11602: 'InterruptedDueToReplStateChange',
  13297: 'DatabaseDifferCase',
  13388: 'StaleConfig',
  13435: 'NotPrimaryNoSecondaryOk',
  13436: 'NotPrimaryOrSecondary',
};

// mongod's ErrorCategory memberships that decide its error labels.
const RETRYABLE_WRITE_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 50915]);
const RESUMABLE_CHANGE_STREAM_CODES = new Set([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133, 43,
]);
const NON_RESUMABLE_CHANGE_STREAM_CODES = new Set([280, 286]);

function codeName(code) {
  return CODE_NAMES[code] || (code >= 10000 ? 'Location' + code : 'UnknownError');
}

class CommandError extends Error {
  constructor(code, message, extra) {
    super(message);
    this.code = code;
    this.extra = extra || null; // extra reply fields (errInfo, errorLabels, ...)
  }
}

function errorReply(code, errmsg, extra) {
  const r = { ok: 0, errmsg, code, codeName: codeName(code) };
  if (extra) Object.assign(r, extra);
  return r;
}

// Labels mongod attaches to an error reply when the failing command is a retryable
// write (RetryableWriteError) or part of a change stream (Resumable/NonResumable).
function labelsFor(code, ctx) {
  const labels = [];
  if (ctx.retryableWrite && RETRYABLE_WRITE_CODES.has(code)) labels.push('RetryableWriteError');
  if (ctx.changeStream) {
    if (NON_RESUMABLE_CHANGE_STREAM_CODES.has(code)) labels.push('NonResumableChangeStreamError');
    else if (ctx.getMore && RESUMABLE_CHANGE_STREAM_CODES.has(code)) labels.push('ResumableChangeStreamError');
  }
  return labels;
}

module.exports = { CommandError, errorReply, codeName, labelsFor };
