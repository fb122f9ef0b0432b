# A channel echo: sends back every item it receives, until the other side closes the channel.
#
# It is driven from code, for instance from Node with the engine:
#
#   const gw = await makeGateway('popen');
#   const ch = gw.remoteExec({ file: 'examples/echo.py' });
#   await ch.send(Tuple.of(1, 'x'));
#   console.log(await ch.receive());   // Tuple [1, 'x'] -- the same value, back
#   ch.close();                        // ends the loop below
#   await gw.terminate();
#
# From the command line, piped lines are the items, and the end of the input ends the loop:
#
#   printf 'one\ntwo\n' | node dist/cli.js run examples/echo.py
for item in channel:
    channel.send(item)
