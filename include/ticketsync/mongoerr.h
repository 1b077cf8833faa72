/*
 * mongoerr: the MongoDB server error codes ticketsync reacts to, named once. libmongoc
 * reports a server error as bson_error_t.code = the server's code (domain
 * MONGOC_ERROR_SERVER, MONGOC_ERROR_QUERY or MONGOC_ERROR_WRITE_CONCERN); compare with
 * these, never with a bare number. The names are the server's own (error_codes.yml).
 */
#ifndef TICKETSYNC_MONGOERR_H
#define TICKETSYNC_MONGOERR_H

enum mongoerr_code {
	MONGOERR_NAMESPACE_EXISTS = 48,              /* create: the collection exists */
	MONGOERR_COMMAND_NOT_FOUND = 59,             /* the server lacks the command */
	MONGOERR_DOCUMENT_VALIDATION_FAILURE = 121,  /* a $jsonSchema validator refused */
	MONGOERR_CHANGE_STREAM_FATAL = 280,          /* the stream cannot resume */
	MONGOERR_CHANGE_STREAM_HISTORY_LOST = 286,   /* the resume point left the oplog */
	MONGOERR_DUPLICATE_KEY = 11000,              /* a unique index refused */
};

#endif
