"""FastAPI contender: the same work as the other contenders, served by uvicorn."""

import json

import numpy
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

app = FastAPI()


@app.post("/add")
async def add(body: dict) -> dict:
    return {"result": body["a"] + body.get("b", 0)}


@app.get("/stream")
def stream(n: int) -> StreamingResponse:
    async def lines():  # an async generator: a sync one costs a thread hop per chunk
        for k in range(n):
            yield json.dumps({"i": k}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@app.post("/bytes")
async def echo_bytes(request: Request) -> Response:
    return Response(content=await request.body(), media_type="application/octet-stream")


@app.post("/f32")
async def echo_f32(request: Request) -> Response:
    arr = numpy.frombuffer(await request.body(), dtype=numpy.float32)
    return Response(content=arr.tobytes(), media_type="application/octet-stream")
