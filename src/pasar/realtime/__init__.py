"""The real-time engine: live events from the server to every viewer of a show.

A node's hub (which sockets watch which show, the per-tick fan-out), the
brokers that number, keep and spread events between nodes (in memory, Redis),
presence and like counts, rate limits, the raw WebSocket writer, and the
event contract (schemas, and the generator of the client's types). It knows
nothing of the domains that publish through it nor of the socket's transport
(``pasar.web.show_socket``).
"""
