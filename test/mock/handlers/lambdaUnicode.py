"""Replies with text a database in another encoding, or jsonb, may not hold.

{"reply": "euro"}          -> {"price": "12 €"}, the euro sign as raw UTF-8
{"reply": "euro_escaped"}  -> {"price": "12 \\u20ac"}, as a JSON escape
{"reply": "e_acute"}       -> {"name": "Ren\\u00e9"}, which LATIN1 holds
{"reply": "nul"}           -> {"text": "a\\u0000b"}, which jsonb refuses
anything else              -> {"ok": true, "event": <the event>}
"""
import json


def lambda_handler(event, context):
    reply = event.get('reply') if isinstance(event, dict) else None
    if reply == 'euro':
        # Serialized here, not by the runtime, so the UTF-8 bytes go out as they are.
        return context.mock.forced_response(
            {'raw': json.dumps({'price': '12 \u20ac'}, ensure_ascii=False)}, b'')
    if reply == 'euro_escaped':
        return {'price': '12 \u20ac'}
    if reply == 'e_acute':
        return {'name': 'Ren\u00e9'}
    if reply == 'nul':
        return {'text': 'a\u0000b'}
    return {'ok': True, 'event': event}
