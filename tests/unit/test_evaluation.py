from ragkit.evaluation import contains_evidence, first_hit_rank, hit_at, mrr_at, normalize, parse_questions


def test_normalize_uses_nfkc_lower_case_and_drops_whitespace():
    assert normalize("ＧＰＴ－４  Turbo\n") == "gpt-4turbo"


def test_evidence_cut_by_a_chunk_boundary_counts_when_80_percent_is_there():
    evidence = "其初始版本于 2022 年 4 月发布"  # 15 characters once whitespace is gone
    chunk_end = "……PaLM 其初始版本于 2022 年 4"  # a chunk that ends inside the evidence
    assert contains_evidence(chunk_end, evidence)  # 13/15 contiguous
    assert not contains_evidence("……PaLM 其初始版本于", evidence)  # 6/15
    assert not contains_evidence("其初始 版本 于 2022 年（略）4 月发布", evidence, min_fraction=0.9)


def test_rank_and_metrics():
    chunks = ["无关", "LangChain 的作者是 Harrison Chase", "再次出现：LangChain 的作者是 Harrison Chase"]
    assert first_hit_rank(chunks, "LangChain 的作者是 Harrison Chase") == 2
    ranks = [1, 2, None, 7]
    assert hit_at(ranks, 1) == 0.25 and hit_at(ranks, 5) == 0.5
    assert abs(mrr_at(ranks, 10) - (1 + 0.5 + 1 / 7) / 4) < 1e-9
    assert mrr_at([11], 10) == 0.0


def test_parse_questions_expands_turns_and_reports_bad_lines():
    lines = [
        '{"id": "a", "kind": "single", "lang": "zh", "question": "Q1", "source": "s.md", "evidence": "E", "answer_keywords": ["k"]}',
        '{"id": "b", "kind": "multiturn", "lang": "zh", "turns": [{"question": "T1", "evidence": "e1"}, {"question": "T2", "evidence": "e2"}]}',
        "not json",
        '{"id": "c", "kind": "unanswerable", "question": "Q3"}',
        '{"id": "d", "kind": "weird", "question": "Q4"}',
        '{"id": "e", "kind": "single"}',
    ]
    questions, problems = parse_questions(lines)
    assert [q.id for q in questions] == ["a", "b#1", "b#2", "c"]
    assert questions[2].history == ("T1",) and questions[2].conversation == "b"
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 5", "line 6"]
    assert problems[1:] == ["line 5: field 'kind' must be one of single, multiturn, unanswerable, not 'weird'",
                            "line 6: missing field 'question'"]


def test_table_separators_are_dropped_before_comparing():
    assert normalize("| GPT-4 | 8k | 性能更强 |") == normalize("GPT-4 8k 性能更强")
    assert contains_evidence("| GPT-4 | 8k | 性能更强 | 30 | 60 |", "GPT-4 | 8k | 性能更强 | 30 | 60")


def test_evidence_may_list_alternatives_and_bad_fields_are_named():
    lines = [
        '{"id": "a", "question": "Q", "source": ["x.md", "y.md"], "evidence": ["甲乙丙", "丁戊己"], "answer_keywords": ["k"]}',
        '{"id": "b", "question": "Q", "evidence": "| GPT-4 | 8k |"}',
        '{"id": "c", "question": "Q", "evidence": ["甲", 3]}',
        '{"id": "d", "question": "Q", "source": ["x.md", "y.md", "z.md"], "evidence": ["甲", "乙"]}',
        '{"id": "e", "kind": "multiturn", "turns": [{"question": "T1"}, {"evidence": "e2"}]}',
        '{"id": "f", "question": "Q", "lang": "fr"}',
        '[1, 2]',
    ]
    questions, problems = parse_questions(lines)
    assert questions[0].evidence == ("甲乙丙", "丁戊己") and questions[0].source == ("x.md", "y.md")
    assert first_hit_rank(["无关", "……丁戊己……"], questions[0].evidence) == 2
    assert questions[1].tags == ("table",) and questions[0].tags == ()
    assert problems == [
        "line 3: field 'evidence' must be a non-empty string or a list of non-empty strings",
        "line 4: fields 'source' and 'evidence' must be lists of the same length",
        "line 5: turn 2: missing field 'question'",
        "line 6: field 'lang' must be \"zh\" or \"en\"",
        "line 7: a line must be a JSON object",
    ]
