"""Drives Tria's /v1/chat/completions with the official `openai` package, as a user's tool would.

Run by the Rust test `openai_sdk::the_official_openai_sdk_works_against_tria` with TRIA_BASE and
TRIA_KEY set; exits non-zero with a message on the first failed expectation.
"""
import os
import sys

import openai

base = os.environ["TRIA_BASE"] + "/v1"
key = os.environ["TRIA_KEY"]
question = [{"role": "user", "content": "What is the restocking fee on returns?"}]
client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=30)

reply = client.chat.completions.create(model="northwind-assistant", messages=question, user="sdk-customer")
content = reply.choices[0].message.content
assert "10%" in content, content
assert reply.choices[0].finish_reason == "stop", reply
assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0, reply.usage
assert reply.model == "northwind-assistant", reply.model

streamed, usage = "", None
for chunk in client.chat.completions.create(
    model="northwind-assistant", messages=question, stream=True, stream_options={"include_usage": True}
):
    if chunk.choices and chunk.choices[0].delta.content:
        streamed += chunk.choices[0].delta.content
    if chunk.usage is not None:
        usage = chunk.usage
assert "10%" in streamed, streamed
assert usage is not None and usage.completion_tokens > 0, usage

try:
    openai.OpenAI(base_url=base, api_key="tria_not_a_key", max_retries=0).chat.completions.create(
        model="x", messages=question
    )
    sys.exit("a wrong key was accepted")
except openai.AuthenticationError as e:
    assert e.status_code == 401

try:
    client.chat.completions.create(model="x", messages=[{"role": "system", "content": "no user message"}])
    sys.exit("a request without a user message was accepted")
except openai.BadRequestError as e:
    assert e.status_code == 400

print("openai sdk: ok")
