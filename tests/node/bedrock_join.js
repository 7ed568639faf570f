// A real Bedrock client and server (PrismarineJS bedrock-protocol), for loopback tests only.
//   node bedrock_join.js server <host> <port>   prints LISTENING, then JOINED <name> per player
//   node bedrock_join.js client <host> <port>   exit 0 once joined, 3 on an error, 4 on no join in 25 s
// Both sides run offline (no Microsoft account); every other option is the library's default,
// including the client's followPort: it connects to the port the server's pong advertises.
'use strict'
const bedrock = require('bedrock-protocol')
const [role, host, port] = process.argv.slice(2)
if (role === 'server') {
  const server = bedrock.createServer({ host, port: Number(port), offline: true, motd: { motd: 'nat1 test', levelName: 'lab' } })
  server.on('connect', client => {
    client.on('join', () => console.log('JOINED', client.getUserData ? client.getUserData().displayName : ''))
  })
  console.log('LISTENING')
} else if (role === 'client') {
  const client = bedrock.createClient({ host, port: Number(port), offline: true, username: 'nat1tester' })
  const timer = setTimeout(() => { console.log('TIMEOUT'); process.exit(4) }, 25000)
  client.on('join', () => { console.log('CLIENT_JOINED'); clearTimeout(timer); client.close(); process.exit(0) })
  client.on('error', error => { console.log('ERROR', error && error.message); process.exit(3) })
} else {
  console.error('usage: node bedrock_join.js server|client <host> <port>')
  process.exit(2)
}
