"""The official `openai` Python client against `raptorflow serve`.

Usage: openai_client.py BASE_URL TOKEN CHAT_MODEL EMBEDDING_MODEL

Prints one JSON object with what each call returned, for the Rust test
(tests/api/openai.rs) to check; exits non-zero only if the client itself
cannot be used.
"""

import json
import sys

import openai

base_url, token, chat_model, embedding_model = sys.argv[1:5]
client = openai.OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=600)
report = {"client_version": openai.__version__}

report["models"] = [m.id for m in client.models.list()]

# A streamed chat completion on the local model.
tagline = dict(
    model=chat_model,
    messages=[
        {"role": "system", "content": "You are a concise marketing assistant."},
        {"role": "user", "content": "Give one tagline for a coffee subscription."},
    ],
    stream=True,
    max_tokens=24,
    temperature=0,
    seed=7,
)
pieces, finish, usage, roles = [], None, None, []
stream = client.chat.completions.create(**tagline, stream_options={"include_usage": True})
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage.model_dump()
    for choice in chunk.choices:
        if choice.delta.role:
            roles.append(choice.delta.role)
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
report["stream"] = {"pieces": pieces, "finish_reason": finish, "usage": usage, "roles": roles}

# The same request again (same seed, temperature 0): answered from the
# response cache, and streamed once, not twice.
again = client.chat.completions.create(**tagline)
report["stream_again"] = "".join(c.choices[0].delta.content or "" for c in again if c.choices)

# Not streamed: an answer, then the same question with a stop sequence taken
# from the middle of that answer, which must end it just before (greedy
# decoding gives the same text up to there).
question = [{"role": "user", "content": "Count from one to ten in words, separated by commas."}]
free = client.chat.completions.create(model=chat_model, messages=question, max_tokens=40, temperature=0)
text = free.choices[0].message.content
stop = None
for k in range(len(text) // 2, len(text) - 3):
    if text.find(text[k : k + 3]) > 0:
        stop = text[k : k + 3]
        break
if stop is None:
    sys.exit(f"no stop sequence could be taken from the free answer {text!r}")
stopped = client.chat.completions.create(model=chat_model, messages=question, max_tokens=40, temperature=0, stop=[stop])
report["whole"] = {
    "free": text,
    "stop": stop,
    "expected": text[: text.find(stop)],
    "content": stopped.choices[0].message.content,
    "finish_reason": stopped.choices[0].finish_reason,
    "usage": stopped.usage.model_dump(),
    "model": stopped.model,
}

# A JSON Schema answer: constrained decoding on the local model.
schema = {
    "type": "object",
    "properties": {
        "headline": {"type": "string", "maxLength": 30},
        "description": {"type": "string", "maxLength": 90},
    },
    "required": ["headline", "description"],
    "additionalProperties": False,
}
structured = client.chat.completions.create(
    model=chat_model,
    messages=[{"role": "user", "content": "Write an ad for a flower shop as JSON with a headline and a description."}],
    response_format={"type": "json_schema", "json_schema": {"name": "ad", "schema": schema, "strict": True}},
    max_tokens=300,
    temperature=0,
)
report["structured"] = {"content": structured.choices[0].message.content, "schema": schema}

# Embeddings: the client asks for base64 unless told otherwise; both.
texts = ["fresh coffee delivered weekly", "a flower shop in Leeds"]
default = client.embeddings.create(model=embedding_model, input=texts)
floats = client.embeddings.create(model=embedding_model, input=texts[0], encoding_format="float")
report["embeddings"] = {
    "texts": texts,
    "vectors": [d.embedding for d in default.data],
    "float_vector": floats.data[0].embedding,
    "usage": default.usage.model_dump(),
    "model": default.model,
}


def error_of(call):
    """The status and OpenAI-shaped body of the error `call` raises."""
    try:
        call()
    except openai.APIStatusError as err:
        return {"status": err.status_code, "class": type(err).__name__, "body": err.body}
    return None


wrong = openai.OpenAI(base_url=base_url, api_key="rf-wrong", max_retries=0)
report["wrong_token"] = error_of(lambda: wrong.models.list())
report["unknown_model"] = error_of(
    lambda: client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
)
report["bad_request"] = error_of(
    lambda: client.chat.completions.create(model=chat_model, messages=[{"role": "user", "content": "hi"}], temperature=5)
)

print(json.dumps(report))
