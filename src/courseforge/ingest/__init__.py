"""Source material from files people upload: the text of .txt, .md, .pdf and .docx."""
