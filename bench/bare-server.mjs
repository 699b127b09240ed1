// The yardstick: a bare node:http server answering a small JSON body, in its own process like Axon.
import { createServer } from 'node:http';

const body = JSON.stringify({ server_version: 'bare node:http' });
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
