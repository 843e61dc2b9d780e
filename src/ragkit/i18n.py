"""User-facing text in Chinese (default) and English.

>>> tr("file_too_large", "zh", size=20.0, limit=10)
'文件 20.0 MB，超过 10 MB 上限（RAGKIT_MAX_FILE_MB）'
>>> tr("file_too_large", "en", size=20.0, limit=10)
'20.0 MB is over the 10 MB limit (RAGKIT_MAX_FILE_MB)'
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

MESSAGES: dict[str, tuple[str, str]] = {
    # reading files
    "empty_file": ("空文件", "empty file"),
    "no_text": ("文件中没有文本", "no text in this file"),
    "binary": ("是二进制内容，不是文本", "binary content, not text"),
    "bad_bom": ("以 {encoding} 字节序标记开头，但内容不是 {encoding}", "starts with a {encoding} byte-order mark but is not {encoding}"),
    "unknown_encoding": ("无法识别的文本编码（支持 UTF-8、带 BOM 的 UTF-16/32、GB18030/GBK）",
                         "text in an unknown encoding (expected UTF-8, UTF-16/32 with BOM, or GB18030/GBK)"),
    "bad_pdf": ("不是可读的 PDF（{detail}）", "not a readable PDF ({detail})"),
    "pdf_no_text": ("PDF 中没有可提取的文本，且 OCR 已关闭（RAGKIT_OCR=never）；设为 auto 即可识别扫描件",
                    "no extractable text in this PDF and OCR is off (RAGKIT_OCR=never); set it to auto to read scans"),
    "bad_docx": ("不是有效的 Word .docx 文件（{detail}）", "not a readable Word .docx file ({detail})"),
    # office documents, e-books and data files (issue #14)
    "bad_container": ("不是可读的 {kind} 文件（{detail}）", "not a readable {kind} file ({detail})"),
    "bad_sheet": ("不是可读的 {kind} 表格（{detail}）", "not a readable {kind} spreadsheet ({detail})"),
    "bad_pptx": ("不是可读的 PowerPoint .pptx 文件（{detail}）", "not a readable PowerPoint .pptx file ({detail})"),
    "bad_epub": ("不是可读的 EPUB 电子书（{detail}）", "not a readable EPUB e-book ({detail})"),
    "bad_json": ("不是有效的 JSON：第 {line} 行第 {column} 列，{detail}", "not valid JSON: line {line}, column {column}: {detail}"),
    "parse_failed": ("无法解析（{detail}）", "could not be parsed ({detail})"),
    "unsupported": ("不支持的文件类型 {suffix}；支持：{supported}", "unsupported file type {suffix}; supported: {supported}"),
    "file_too_large": ("文件 {size} MB，超过 {limit} MB 上限（RAGKIT_MAX_FILE_MB）",
                       "{size} MB is over the {limit} MB limit (RAGKIT_MAX_FILE_MB)"),
    "not_found": ("路径不存在", "does not exist"),
    "permission": ("没有读取权限", "permission denied"),
    "symlink_loop": ("符号链接循环", "symbolic link loop"),
    "no_match": ("没有文件匹配这个模式", "no files match this pattern"),
    "same_source": ("与 {other} 的来源名相同；请分开导入", "same source name as {other}; ingest them separately"),
    "os_error": ("无法读取（{detail}）", "cannot be read ({detail})"),
    # store
    "embedder_mismatch": (
        "知识库 {kb!r} 是用嵌入模型 {built!r}（{dim} 维）建立的，不是 {wanted!r}：检索时请用 --embedder {built}"
        "（RAGKIT_EMBEDDER），或用新模型重建：ragkit ingest PATH --kb {kb} --rebuild",
        "knowledge base {kb!r} was built with embedder {built!r} ({dim}-d), not {wanted!r}: search it with "
        "--embedder {built} (RAGKIT_EMBEDDER), or rebuild it with the new one: ragkit ingest PATH --kb {kb} --rebuild",
    ),
    "busy": ("另一个 ragkit 进程正在写入 {path}，请等它结束后再试", "another ragkit process is writing to {path}; try again when it has finished"),
    "no_document": ("知识库 {kb!r} 中没有文档 {source!r}（见 ragkit list）", "no document {source!r} in knowledge base {kb!r} (see: ragkit list)"),
    "no_data_dir": ("{path} 下没有 ragkit 数据目录，也就没有知识库：请检查 --data-dir / RAGKIT_DATA_DIR，或先运行 ragkit ingest PATH",
                    "there is no ragkit data directory at {path}, so no knowledge base: check --data-dir / "
                    "RAGKIT_DATA_DIR, or run ragkit ingest PATH first"),
    "retokenizing": ("知识库 {kb!r} 的 BM25 索引由旧的分词规则生成：正在用新规则重新分词 {n} 个片段（无需重新嵌入）……",
                     "knowledge base {kb!r} has BM25 tokens from older tokenizer rules: tokenizing its {n} chunks again "
                     "(nothing is embedded again)..."),
    "migrating_bm25": ("知识库 {kb!r} 的 BM25 索引在旧版的 SQLite FTS5 中：正在把它的 {n} 个片段移到 tantivy（只复制分词结果，无需重新嵌入）……",
                       "knowledge base {kb!r} has its BM25 index in an older ragkit's SQLite FTS5 tables: moving its {n} "
                       "chunks to tantivy (tokens are copied; nothing is embedded again)..."),
    "kb_empty": ("知识库 {kb!r} 还是空的：先运行 ragkit ingest PATH --kb {kb}", "knowledge base {kb!r} is empty: run ragkit ingest PATH --kb {kb} first"),
    "chroma_unreachable": ("无法连接 Chroma 服务器 {url}：{detail}", "cannot reach the Chroma server at {url}: {detail}"),
    # model providers
    "llm_401": ("{provider} 拒绝了 API 密钥（HTTP 401）：请检查 {key_var}", "{provider} rejected the API key (HTTP 401): check {key_var}"),
    "llm_403": ("{provider} 拒绝访问（HTTP 403）：{detail}", "{provider} refused access (HTTP 403): {detail}"),
    "llm_404": ("{provider} 上没有模型 {model!r}（HTTP 404）", "{provider} has no model {model!r} (HTTP 404)"),
    "llm_429": ("{provider} 请求过于频繁（HTTP 429），重试 {retries} 次后仍失败，请稍后再试",
                "{provider} is rate limiting (HTTP 429), still after {retries} retries; try again later"),
    "llm_5xx": ("{provider} 服务器出错（HTTP {status}），重试 {retries} 次后仍失败",
                "{provider} answered with a server error (HTTP {status}), still after {retries} retries"),
    "llm_status": ("{provider} 拒绝了请求（HTTP {status}）：{detail}", "{provider} rejected the request (HTTP {status}): {detail}"),
    "llm_timeout": ("{provider} 在 {timeout} 秒内没有响应（重试 {retries} 次；RAGKIT_REQUEST_TIMEOUT）",
                    "{provider} did not answer within {timeout} s ({retries} retries; RAGKIT_REQUEST_TIMEOUT)"),
    "llm_unreachable": ("无法连接 {provider}（{url}），重试 {retries} 次后仍失败", "cannot reach {provider} at {url}, still after {retries} retries"),
    "llm_malformed": ("{provider} 返回了无法解析的响应：{detail}", "{provider} sent a response that cannot be read: {detail}"),
    "gguf_unreadable": ("{path} 不是 llama.cpp 能加载的 GGUF 模型文件", "{path} is not a GGUF model file llama.cpp can load"),
    "rerank_failed": ("重排序模型 {provider}（{url}）出错：{detail}", "the reranker {provider} ({url}) failed: {detail}"),
    "gguf_failed": ("本地模型 {path} 无法完成请求：{detail}", "the local model {path} could not complete the request: {detail}"),
    # CLI
    "summary": ("新增 {added}，更新 {updated}，未变 {unchanged}，删除 {removed}，失败 {failed}；写入 {written} 个片段，删除 {deleted} 个，用时 {seconds:.1f} 秒",
                "added {added}, updated {updated}, unchanged {unchanged}, removed {removed}, failed {failed}; "
                "{written} chunks written, {deleted} deleted, {seconds:.1f} s"),
    "failed_line": ("失败 {source}：{reason}", "failed {source}: {reason}"),
    "recovered": ("已修复上次中断的导入（{n} 个文件）", "repaired an interrupted ingest ({n} files)"),
    "status_added": ("新增", "added"),
    "status_updated": ("更新", "updated"),
    "status_unchanged": ("未变", "unchanged"),
    "status_failed": ("失败", "failed"),
    # ragkit watch (issue #14)
    "status_removed": ("删除", "removed"),
    "watch_start": ("正在同步 {folders} 到知识库 {kb}：先补上离线期间的变化，然后跟随文件的新增、修改、删除和改名；按 Ctrl-C 停止",
                    "syncing {folders} into knowledge base {kb}: catching up first, then following created, changed, "
                    "deleted and renamed files; Ctrl-C stops"),
    "watch_caught_up": ("已补上变化，正在监视", "caught up; watching"),
    "watch_busy": ("另一个 ragkit 进程正在写入 {path}：等它结束后再同步", "another ragkit process is writing to {path}: syncing when it has finished"),
    "progress_label": ("导入", "Ingesting"),
    "no_results": ("没有找到相关片段", "no matching passages"),
    "deleted": ("已删除 {source}（{n} 个片段）", "deleted {source} ({n} chunks)"),
    "dropped": ("已清空知识库 {kb}", "emptied knowledge base {kb}"),
    "error": ("错误：{detail}", "error: {detail}"),
    "internal_error": ("内部错误：{detail}（设置 RAGKIT_DEBUG=1 查看调用栈）", "internal error: {detail} (set RAGKIT_DEBUG=1 for the traceback)"),
    "info_kb": ("知识库", "knowledge base"),
    "info_embedder": ("嵌入模型", "embedder"),
    "info_documents": ("文档", "documents"),
    "info_chunks": ("片段", "chunks"),
    "info_data_dir": ("数据目录", "data directory"),
    "info_chroma": ("Chroma", "Chroma"),
    "info_consistent": ("一致性", "consistency"),
    "info_ok": ("正常（向量、BM25、记录数一致）", "ok (vectors, BM25 and records agree)"),
    "info_bad": ("不一致：向量 {vectors}，BM25 {bm25}，记录 {records}，待完成 {pending}；再运行一次 ragkit ingest 即可修复",
                 "inconsistent: vectors {vectors}, BM25 {bm25}, records {records}, pending {pending}; "
                 "the next ragkit ingest repairs it"),
    "info_damaged": ("向量索引在一次被中断的导入中损坏；下次运行 ragkit ingest 会从已保存的向量重建它",
                     "the vector index was damaged by an interrupted ingest; the next ragkit ingest rebuilds it "
                     "from the stored vectors"),
    "extractive_label": ("【抽取式回答：以下句子摘自资料原文，未经生成模型改写】", "[extractive answer: sentences quoted from the documents, not written by a model]"),
    "rewritten": ("检索问题：{query}", "searched for: {query}"),
    "sources": ("来源：", "Sources:"),
    "no_sources": ("（没有引用）", "(no sources)"),
    "chat_welcome": ("ragkit 对话（会话 {session}）。命令：/sources 查看来源，/reset 清空记忆，/exit 退出。",
                     "ragkit chat (session {session}). Commands: /sources, /reset, /exit."),
    "chat_prompt": ("你", "you"),
    "chat_interrupted": ("（回答已中断）", "(answer interrupted)"),
    "chat_reset": ("已清空这个会话的记忆。", "This session's memory is cleared."),
    "chat_bye": ("再见。", "Bye."),
    "chat_ctrl_c": ("（按 Ctrl-D 或输入 /exit 退出）", "(press Ctrl-D or type /exit to leave)"),
    # Streamlit app
    "ui_title": ("ragkit 文档问答", "ragkit document chat"),
    "ui_caption": ("基于知识库回答问题，并给出可以展开查看的出处。", "Answers from the knowledge base, with sources you can open."),
    "ui_first_ingest": ("第一次启动：正在导入示例资料 {path}……", "First start: ingesting the demo documents in {path}..."),
    "ui_ingest_done": ("导入完成：{summary}", "Ingested: {summary}"),
    "ui_examples": ("可以试试这些问题：", "Try one of these questions:"),
    "ui_input": ("输入你的问题……", "Ask a question..."),
    "ui_extractive": ("抽取式回答", "extractive answer"),
    "ui_extractive_help": ("当前没有配置生成式大模型：回答是从资料中摘出的原句。", "No generative LLM is configured: the answer quotes sentences of the documents."),
    "ui_rewritten": ("检索问题：{query}", "Searched for: {query}"),
    "ui_sources": ("出处", "Sources"),
    "ui_no_sources": ("没有引用出处。", "No sources cited."),
    "ui_page": ("第 {page} 页", "page {page}"),
    "ui_new_chat": ("新对话", "New conversation"),
    "ui_history": ("历史对话", "Past conversations"),
    "ui_no_history": ("还没有对话。", "No conversations yet."),
    "ui_language": ("界面语言", "Language"),
    "ui_mode": ("模式", "Mode"),
    "ui_mode_kb": ("知识库问答", "Knowledge-base Q&A"),
    "ui_mode_chat": ("普通对话", "Plain chat"),
    "ui_mode_agent": ("智能体（工具调用）", "Agent (tools)"),
    "ui_step_call": ("调用 {tool}", "Calling {tool}"),
    "ui_step_failed": ("{tool} 出错", "{tool} failed"),
    "ui_stopped": ("已达到步数上限，智能体停止。", "The agent stopped at its step limit."),
    "ui_kb": ("知识库", "Knowledge base"),
    "ui_new_kb": ("新建知识库（输入名称）", "New knowledge base (name)"),
    "ui_upload": ("上传文档（md、txt、pdf、docx、html、图片）", "Upload documents (md, txt, pdf, docx, html, images)"),
    "ui_upload_button": ("导入上传的文件", "Ingest the uploaded files"),
    "ui_upload_failed": ("{source}：{reason}", "{source}: {reason}"),
    "ui_documents": ("文档（{n}）", "Documents ({n})"),
    "ui_delete": ("删除", "Delete"),
    "ui_deleted": ("已删除 {source}", "Deleted {source}"),
    "ui_settings": ("设置", "Settings"),
    "ui_llm": ("大模型（provider:model）", "LLM (provider:model)"),
    "ui_embedder": ("嵌入模型（provider:model）", "Embedding model (provider:model)"),
    "ui_reranker": ("重排序模型（provider:model，留空则不重排）", "Reranker (provider:model; empty = none)"),
    "ui_ready": ("可用", "ready"),
    "ui_not_ready": ("不可用：{reason}", "not ready: {reason}"),
    "ui_top_k": ("返回片段数（top-k）", "Passages (top-k)"),
    "ui_retrieval_mode": ("检索方式", "Retrieval mode"),
    "ui_temperature": ("温度（生成式模型）", "Temperature (generative models)"),
    "ui_apply": ("应用设置", "Apply settings"),
    "ui_error": ("出错了：{detail}", "Something went wrong: {detail}"),
    "ui_thinking": ("正在检索并回答……", "Searching and answering..."),
    "agent_call": ("→ 调用工具 {tool}({args})", "→ calling {tool}({args})"),
    "agent_result": ("← {tool}：{content}", "← {tool}: {content}"),
    "agent_result_error": ("← {tool} 出错：{content}", "← {tool} failed: {content}"),
    "agent_stopped": ("（已达到步数上限 {n}，智能体停止；可用 RAGKIT_AGENT_MAX_STEPS 调整）", "(stopped at the step limit of {n}; RAGKIT_AGENT_MAX_STEPS changes it)"),
    "eval_problem": ("问题集 {path} {problem}", "question set {path} {problem}"),
    "eval_running": ("评测 {config}：{n}/{total}", "evaluating {config}: {n}/{total}"),
    "eval_written": ("结果已写入 {path}", "results written to {path}"),
    "eval_misses": ("未命中或答错（前 {n} 个）：", "misses and wrong answers (first {n}):"),
    "eval_expected": ("应找到：{evidence}", "expected: {evidence}"),
    "eval_got": ("实际检索到：", "retrieved instead:"),
    "eval_needs_generative": ("生成问题需要生成式大模型：请设置 RAGKIT_LLM（当前是抽取式模型）", "generating questions needs a generative LLM: set RAGKIT_LLM (the current one is the extractive model)"),
    "eval_generated": ("已生成 {n} 个问题：{path}", "{n} questions drafted: {path}"),
    "eval_no_questions": ("请给出问题集 QUESTIONS.jsonl，或用 --generate N 生成", "give a question set QUESTIONS.jsonl, or draft one with --generate N"),
    # server
    "kb_not_found": ("没有知识库 {kb!r}（或这个密钥不能访问它）", "no knowledge base {kb!r} (or this key cannot see it)"),
    "kb_exists": ("知识库 {kb!r} 已经存在", "knowledge base {kb!r} already exists"),
    "kb_name_bad": ("知识库名称不能为空，也不能包含 / 或控制字符：{kb!r}", "a knowledge base name must not be empty or contain / or control characters: {kb!r}"),
    "session_not_found": ("没有会话 {id!r}", "no conversation {id!r}"),
    "job_not_found": ("没有任务 {id!r}", "no job {id!r}"),
    "job_interrupted": ("服务器在任务进行中停止了；知识库已按导入日志修复（未完成的文件已回滚），请重新上传这些文件",
                        "the server stopped during this job; the knowledge base was repaired from its journal "
                        "(the unfinished file was rolled back): upload the files again"),
    "job_stopped": ("服务器停止时任务中断；已导入的文件完整保留，请重新上传其余文件",
                    "the server stopped during this job; the files ingested so far are whole: upload the rest again"),
    "feedback_rating": ("评分 {value!r} 无效：用 1（👍）或 -1（👎）", "rating {value!r} is not valid: use 1 (👍) or -1 (👎)"),
    "feedback_unknown": ("没有回答 {id!r}（服务器只保留最近的回答）", "no answer {id!r} (the server keeps only recent answers)"),
    "auth_missing": ("需要 API 密钥：在请求头加上 Authorization: Bearer <密钥>（用 ragkit keys create 创建）",
                     "an API key is required: send Authorization: Bearer <key> (create one with: ragkit keys create)"),
    "auth_invalid": ("API 密钥无效或已被吊销", "the API key is not valid or was revoked"),
    "auth_scope": ("这个密钥的权限是 {have}，这里需要 {need}", "this key has scope {have}; this needs {need}"),
    "upload_name": ("文件名 {name!r} 不是单纯的文件名（含路径、..、反斜杠或控制字符），已拒绝",
                    "file name {name!r} is not a plain file name (a path, .., a backslash or a control character): refused"),
    "upload_too_large": ("{name} 有 {size} MB，超过 {limit} MB 上限（RAGKIT_MAX_FILE_MB）",
                         "{name} is {size} MB, over the {limit} MB limit (RAGKIT_MAX_FILE_MB)"),
    "upload_none": ("没有收到文件：用 multipart 表单字段 files 上传", "no files received: send them as multipart form field 'files'"),
    "upload_all_refused": ("所有文件都被拒绝：{names}", "every file was refused: {names}"),
    "model_not_found": ("没有模型 {model!r}；可用的模型：{models}", "no model {model!r}; available: {models}"),
    "no_question": ("messages 中没有用户消息：最后一条 user 消息就是问题", "no user message in messages: the last user message is the question"),
    "bad_request": ("请求无效：{detail}", "invalid request: {detail}"),
    "not_route": ("没有这个接口：{path}（见 /docs）", "no such route: {path} (see /docs)"),
    "serve_loopback": ("没有任何 API 密钥：服务器只在本机 {host} 上监听。要让其他机器访问，先用 ragkit keys create 创建密钥",
                       "no API key exists: the server listens on this machine only ({host}). To serve other machines, "
                       "create a key first: ragkit keys create"),
    "serve_refuse_remote": ("没有任何 API 密钥时不能在 {host} 上监听（任何人都能读写知识库）：先用 ragkit keys create 创建密钥，"
                            "或者明确加上 --allow-remote-without-keys",
                            "refusing to listen on {host} without any API key (anyone could read and change the knowledge "
                            "bases): create a key with ragkit keys create, or pass --allow-remote-without-keys"),
    "serve_warn_remote": ("警告：没有 API 密钥，却在 {host} 上监听：能连到这台机器的任何人都能读写知识库",
                          "WARNING: listening on {host} without any API key: anyone who can reach this machine can read "
                          "and change the knowledge bases"),
    "serve_start": ("ragkit 服务：http://{host}:{port}（接口文档 /docs，OpenAI 兼容接口 /v1，MCP /mcp）",
                    "ragkit server: http://{host}:{port} (API docs /docs, OpenAI-compatible /v1, MCP /mcp)"),
    "serve_needs": ("ragkit serve 需要服务器依赖：pip install 'ragkit[serve]'", "ragkit serve needs the server dependencies: pip install 'ragkit[serve]'"),
    "key_created": ("已创建密钥 {name}（{id}，权限 {scope}{kbs}）。密钥只显示这一次，请妥善保存：",
                    "created key {name} ({id}, scope {scope}{kbs}). It is shown this once only; keep it safe:"),
    "key_revoked": ("已吊销密钥 {name}（{id}）", "revoked key {name} ({id})"),
    "key_none": ("没有名称或 ID 为 {key!r} 的有效密钥", "no active key with name or id {key!r}"),
    "keys_header": ("ID\t名称\t权限\t知识库\t前缀\t状态", "id\tname\tscope\tknowledge bases\tprefix\tstate"),
    "feedback_written": ("已导出 {n} 条评分问题到 {path}", "{n} rated questions written to {path}"),
    "ui_feedback_saved": ("感谢反馈", "Thanks for the feedback"),
    "ui_feedback_comment": ("补充说明（可选）", "Comment (optional)"),
    "list_header": ("来源\t片段\t标题", "source\tchunks\ttitle"),
}


# hostile files and failing disks (#11): bounds on what a file expands to, bad names, causes named
MESSAGES.update({
    "archive_members": ("压缩包内有 {n} 个文件，超过 {limit} 个的上限（RAGKIT_MAX_MEMBERS）",
                        "the archive holds {n} members, over the {limit}-member limit (RAGKIT_MAX_MEMBERS)"),
    "archive_expanded": ("解压后共 {size} MB，超过 {limit} MB 上限（RAGKIT_MAX_EXPANDED_MB），疑似压缩炸弹，已拒绝",
                         "the archive expands to {size} MB, over the {limit} MB limit (RAGKIT_MAX_EXPANDED_MB): "
                         "refused as a possible zip bomb"),
    "archive_ratio": ("压缩包成员 {member} 解压为 {size} MB，压缩比 {ratio}:1，超过 {limit}:1 上限（RAGKIT_MAX_RATIO），"
                      "疑似压缩炸弹，已拒绝",
                      "the archive member {member} expands {size} MB at a ratio of {ratio}:1, over the {limit}:1 "
                      "limit (RAGKIT_MAX_RATIO): refused as a possible zip bomb"),
    "image_pixels": ("图片 {width} x {height} 像素，超过 {limit} 像素上限（RAGKIT_MAX_PIXELS）",
                     "an image of {width} x {height} pixels, over the {limit}-pixel limit (RAGKIT_MAX_PIXELS)"),
    "too_many_pages": ("共 {n} 页，超过 {limit} 页上限（RAGKIT_MAX_PAGES）", "{n} pages, over the {limit}-page limit (RAGKIT_MAX_PAGES)"),
    "bad_name": ("文件名不是有效的 UTF-8（无法解码的字节已显示为 \\xNN）：请改名后再导入",
                 "the file name is not valid UTF-8 (undecodable bytes are shown as \\xNN): rename the file"),
    "html_too_deep": ("HTML 嵌套超过 {limit} 层，解析器无法处理；已按纯文本提取", "HTML nested deeper than {limit} levels"),
    "renamed_taken": ("已保存为 {stored}：本批上传中的 {other} 与它同名", "stored as {stored}: {other} of this upload has the same name"),
    "renamed_long": ("文件名超过 {limit} 字节，已保存为 {stored}", "the name is longer than {limit} bytes: stored as {stored}"),
    "ui_upload_help": ("每个文件最大 {limit} MB（RAGKIT_MAX_FILE_MB）", "At most {limit} MB per file (RAGKIT_MAX_FILE_MB)"),
    "chroma_lost": ("与 Chroma 服务器 {url} 的连接中断（{detail}）；已提交的文件不受影响，服务器恢复后重新运行 ragkit ingest "
                    "即可导入其余文件",
                    "the connection to the Chroma server {url} was lost ({detail}); committed files are safe: run "
                    "ragkit ingest again once the server is back to complete the rest"),
    "disk_full": ("磁盘已满（{where}）：{detail}；已提交的文件不受影响，腾出空间后重新运行 ragkit ingest 即可",
                  "the disk is full ({where}): {detail}; committed files are safe: free some space and run ragkit "
                  "ingest again"),
})

# OCR and PDF tables (#14)
MESSAGES.update({
    "pdf_password": ("PDF 已加密，需要密码才能打开；请先解除密码（如 qpdf --decrypt --password=密码 原文件 新文件）再导入",
                     "the PDF is encrypted and needs a password: remove it first (e.g. qpdf --decrypt "
                     "--password=PASSWORD in.pdf out.pdf), then ingest the copy"),
    "ocr_no_text": ("OCR 没有识别出文字", "OCR found no text"),
    "ocr_off": ("图片需要 OCR 才能读取，但 OCR 已关闭（RAGKIT_OCR=never）",
                "an image needs OCR, which is off (RAGKIT_OCR=never)"),
    "ocr_pages": ("有 {n} 页需要 OCR，超过 {limit} 页上限（RAGKIT_OCR_MAX_PAGES）",
                  "{n} pages need OCR, over the {limit}-page limit (RAGKIT_OCR_MAX_PAGES)"),
    "ocr_timeout": ("OCR 超过 {limit} 秒上限（RAGKIT_OCR_TIMEOUT），在第 {page}/{n} 页停止；文件未导入",
                    "OCR took over the {limit} s limit (RAGKIT_OCR_TIMEOUT), stopped at page {page} of {n}; "
                    "the file was not ingested"),
    "ocr_missing": ("OCR 引擎不可用（{detail}）；请安装 rapidocr-onnxruntime==1.4.4",
                    "the OCR engine is unavailable ({detail}); install rapidocr-onnxruntime==1.4.4"),
    "bad_image": ("不是可读的图片（{detail}）", "not a readable image ({detail})"),
    "image_pixels": ("图片 {width} x {height} 像素，超过 {limit} 像素上限（RAGKIT_MAX_PIXELS）",
                     "an image of {width} x {height} pixels, over the {limit}-pixel limit (RAGKIT_MAX_PIXELS)"),
    "image_pixel_count": ("图片共 {pixels} 像素，超过 {limit} 像素上限（RAGKIT_MAX_PIXELS）",
                          "an image of {pixels} pixels, over the {limit}-pixel limit (RAGKIT_MAX_PIXELS)"),
    "too_many_pages": ("共 {n} 页，超过 {limit} 页上限（RAGKIT_MAX_PAGES）",
                       "{n} pages, over the {limit}-page limit (RAGKIT_MAX_PAGES)"),
    "ocr_page_progress": ("OCR {source}：第 {page}/{n} 页", "OCR {source}: page {page} of {n}"),
})


def tr(key: str, lang: str = "zh", **params: object) -> str:
    """The message ``key`` in ``lang`` (zh or en), formatted with ``params``."""
    zh, en = MESSAGES[key]
    return (en if lang == "en" else zh).format(**params)
