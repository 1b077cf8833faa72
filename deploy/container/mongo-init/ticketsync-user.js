// ticketsync's own MongoDB user, for compose.secure.yaml. The official mongo image runs
// /docker-entrypoint-initdb.d/*.js once, on the first start with an empty data volume,
// in a temporary mongod without access control, right after it creates the root user.
// readWrite is what ticketsyncd needs; dbAdmin lets `ticketsyncctl init` set validators
// (collMod), see docs/OPERATIONS.md, "MongoDB accounts". The password is the one in
// secrets/ticketsync_mongodb.ini (make-secrets.sh writes both).
const database = process.env.MONGO_TICKETSYNC_DATABASE;
const passwordFile = process.env.MONGO_TICKETSYNC_PASSWORD_FILE;

if (!database || !passwordFile)
	throw new Error('the mongo service must set MONGO_TICKETSYNC_DATABASE and MONGO_TICKETSYNC_PASSWORD_FILE');
db.getSiblingDB('admin').createUser({
	user: 'ticketsync',
	pwd: fs.readFileSync(passwordFile, 'utf8').trim(),
	roles: [
		{ role: 'readWrite', db: database },
		{ role: 'dbAdmin', db: database },
	],
});
