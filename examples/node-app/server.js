// A Node app: listens on $PORT, binds $HOST (0.0.0.0 unless the platform says otherwise).
const http = require("http");

const port = Number(process.env.PORT || 8080);
const host = process.env.HOST || "0.0.0.0";

http
  .createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`Hello from Node ${process.version}\n`);
  })
  .listen(port, host, () => console.log(`listening on ${host}:${port}`));
