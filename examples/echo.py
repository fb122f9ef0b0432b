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
# The CLI sends nothing on the channel, so `node dist/cli.js run examples/echo.py` just waits
# for items: press Ctrl-C to interrupt it (exit status 130).
for item in channel:
    channel.send(item)
