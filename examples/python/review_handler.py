#!/usr/bin/python3
"""A message review handler over HTTP, with Python's standard library only: ivschatd POSTs
each message sent to a room whose messageReviewHandler is this handler's function ARN, in
the JSON of the Lambda contract, and delivers what the answer says.

    /usr/bin/python3 examples/python/review_handler.py 127.0.0.1:9002
    ivschatd --review-handler arn:aws:lambda:us-east-1:123456789012:function:review=http://127.0.0.1:9002

It denies messages that contain "spoiler" and masks "darn"; everything else passes as sent.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def review(request):
    content = request.get("Content", "")
    if "spoiler" in content.lower():
        # DENY: delivered to no one; the sender gets an ERROR 406.
        return {"ReviewResult": "DENY", "Content": content, "Attributes": {"Reason": "no spoilers"}}
    return {
        "ReviewResult": "ALLOW",
        "Content": content.replace("darn", "d**n"),
        "Attributes": request.get("Attributes") or {},
    }


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > 64 * 1024:
            self.send_error(413)
            return
        try:
            request = json.loads(self.rfile.read(length))
        except ValueError as e:
            self.send_error(400, str(e))
            return
        body = json.dumps(review(request)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # one line per message is too many


def main():
    host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9002").rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print("review handler listening on http://%s:%d" % server.server_address[:2], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
